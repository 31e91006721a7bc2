#include "modules.h"

namespace mpssh {
void InitNetlinkSocket(Napi::Env env, Napi::Object exports) {}
}  // namespace mpssh
