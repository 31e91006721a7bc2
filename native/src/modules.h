// Each source file of the addon registers its own functions on the exports
// object; addon.cc only calls these in turn.
#pragma once
#include <napi.h>

namespace mpssh {
void InitNetns(Napi::Env env, Napi::Object exports);
void InitNetlinkSocket(Napi::Env env, Napi::Object exports);
void InitMptcpSocket(Napi::Env env, Napi::Object exports);
void InitMptcpInfo(Napi::Env env, Napi::Object exports);
void InitFdPass(Napi::Env env, Napi::Object exports);
void InitPasswd(Napi::Env env, Napi::Object exports);
void InitSdNotify(Napi::Env env, Napi::Object exports);
void InitFds(Napi::Env env, Napi::Object exports);
void InitSandbox(Napi::Env env, Napi::Object exports);
void InitTerminal(Napi::Env env, Napi::Object exports);
}  // namespace mpssh
