#include <napi.h>

#include "modules.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mpssh::InitNetns(env, exports);
  mpssh::InitNetlinkSocket(env, exports);
  mpssh::InitMptcpSocket(env, exports);
  mpssh::InitMptcpInfo(env, exports);
  mpssh::InitFdPass(env, exports);
  mpssh::InitPasswd(env, exports);
  mpssh::InitSdNotify(env, exports);
  mpssh::InitFds(env, exports);
  mpssh::InitSandbox(env, exports);
  mpssh::InitTerminal(env, exports);
  return exports;
}

NODE_API_MODULE(mpssh_native, Init)
