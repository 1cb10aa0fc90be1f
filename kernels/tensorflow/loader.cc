// A Node-API module that loads op libraries into the TensorFlow tfjs-node already loaded,
// through that TensorFlow's own TF_LoadLibrary. Node loads addons RTLD_LOCAL, so the C API
// is not visible to dlsym(RTLD_DEFAULT): its library is reopened by name with RTLD_NOLOAD,
// which finds the copy in the process and never loads a second one.
#include <dlfcn.h>
#include <node_api.h>

#include <string>

namespace {

struct TF_Status;
struct TF_Library;
using NewStatus = TF_Status* (*)();
using DeleteStatus = void (*)(TF_Status*);
using GetCode = int (*)(const TF_Status*);
using Message = const char* (*)(const TF_Status*);
using LoadLibrary = TF_Library* (*)(const char*, TF_Status*);

// tfjs-node's libtensorflow (2.x) and TensorFlow's wheel (libtensorflow_cc) name it differently.
const char* const kTensorflowLibraries[] = {"libtensorflow.so.2", "libtensorflow_cc.so.2"};

struct CApi {
  NewStatus newStatus;
  DeleteStatus deleteStatus;
  GetCode getCode;
  Message message;
  LoadLibrary loadLibrary;
};

/** The C API of the TensorFlow in this process, or the reason it is not found. */
bool findCApi(CApi* api, std::string* reason) {
  for (const char* name : kTensorflowLibraries) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) continue;
    api->newStatus = reinterpret_cast<NewStatus>(dlsym(handle, "TF_NewStatus"));
    api->deleteStatus = reinterpret_cast<DeleteStatus>(dlsym(handle, "TF_DeleteStatus"));
    api->getCode = reinterpret_cast<GetCode>(dlsym(handle, "TF_GetCode"));
    api->message = reinterpret_cast<Message>(dlsym(handle, "TF_Message"));
    api->loadLibrary = reinterpret_cast<LoadLibrary>(dlsym(handle, "TF_LoadLibrary"));
    if (api->newStatus && api->deleteStatus && api->getCode && api->message && api->loadLibrary) return true;
    *reason = std::string(name) + " is loaded but lacks TF_LoadLibrary";
    return false;
  }
  *reason =
      "no TensorFlow library (libtensorflow.so.2 or libtensorflow_cc.so.2) is loaded in this process; "
      "load @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu first";
  return false;
}

napi_value throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

// loadLibrary(path: string): void — throws with TensorFlow's message when the load fails.
napi_value loadLibrary(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1) {
    return throwError(env, "loadLibrary(path): expected one string");
  }
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[0], nullptr, 0, &length) != napi_ok) {
    return throwError(env, "loadLibrary(path): path must be a string");
  }
  std::string path(length, '\0');
  napi_get_value_string_utf8(env, argv[0], &path[0], length + 1, &length);
  CApi api;
  std::string reason;
  if (!findCApi(&api, &reason)) return throwError(env, reason);
  TF_Status* status = api.newStatus();
  api.loadLibrary(path.c_str(), status);  // the handle stays valid for the process's lifetime
  const bool ok = api.getCode(status) == 0;
  const std::string message = ok ? "" : api.message(status);
  api.deleteStatus(status);
  if (!ok) return throwError(env, "TF_LoadLibrary(" + path + "): " + message);
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "loadLibrary", NAPI_AUTO_LENGTH, loadLibrary, nullptr, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "loadLibrary", fn) != napi_ok) {
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
