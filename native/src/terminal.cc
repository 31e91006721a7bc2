// The window size of a terminal whose master another process opened: the
// user-side helper creates terminals and hands the master over, so a
// window-change from the client is applied here, on the descriptor the
// worker holds (TIOCSWINSZ; the kernel sends SIGWINCH to the foreground
// process group).
#include <sys/ioctl.h>
#include <termios.h>

#include <cerrno>

#include "errors.h"
#include "modules.h"

namespace mpssh {

// setWindowSize(fd, cols, rows): both 1..65535 (the kernel's 16 bits).
static Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "setWindowSize(fd: number, cols: number, rows: number)";
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int cols = info[1].As<Napi::Number>().Int32Value();
  int rows = info[2].As<Napi::Number>().Int32Value();
  if (fd < 0 || cols < 1 || cols > 0xffff || rows < 1 || rows > 0xffff) {
    Napi::RangeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) {
    ErrnoError(env, errno, "ioctl").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

void InitTerminal(Napi::Env env, Napi::Object exports) {
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize));
}

}  // namespace mpssh
