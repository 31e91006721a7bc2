// Errors thrown from the addon carry errno, code and syscall, like Node's own
// system errors, so callers can branch on err.code instead of parsing text.
#pragma once
#include <napi.h>

namespace mpssh {

// Builds an Error whose message is "<syscall> <CODE>: <strerror>" and whose
// properties errno (positive), code ("EPERM", ...) and syscall are set.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);

// Name of an errno value ("ENOBUFS"), or "E<number>" when unknown.
const char* ErrnoName(int err);

}  // namespace mpssh
