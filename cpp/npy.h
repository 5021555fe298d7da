// Minimal .npy reading and writing (little-endian, C order; float32, float64, int32, int64).
#pragma once
#include <string>

#include <ATen/ATen.h>

namespace gnnx {
at::Tensor read_npy(const std::string& path);   // throws std::runtime_error naming the file
void write_npy(const std::string& path, const at::Tensor& tensor);
}  // namespace gnnx
