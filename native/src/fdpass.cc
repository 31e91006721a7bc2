#include "modules.h"

namespace mpssh {
void InitFdPass(Napi::Env env, Napi::Object exports) {}
}  // namespace mpssh
