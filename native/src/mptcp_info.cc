#include "modules.h"

namespace mpssh {
void InitMptcpInfo(Napi::Env env, Napi::Object exports) {}
}  // namespace mpssh
