#include "modules.h"

namespace mpssh {
void InitMptcpSocket(Napi::Env env, Napi::Object exports) {}
}  // namespace mpssh
