#include "device_info.h"

namespace attention {

cudaError_t currentDevice(int* device) {
  const cudaError_t status = cudaGetDevice(device);
  if (status != cudaSuccess) return status;
  return *device < kMaxDevices ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t multiprocessorCount(int* count) {
  static PerDevice<int> counts;
  return counts.get(count, [](int* value) {
    int device = 0;
    const cudaError_t status = currentDevice(&device);
    return status != cudaSuccess ? status : cudaDeviceGetAttribute(value, cudaDevAttrMultiProcessorCount, device);
  });
}

}  // namespace attention
