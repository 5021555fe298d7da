#include "npy.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace gnnx {
namespace {

std::runtime_error bad(const std::string& path, const std::string& why) {
  return std::runtime_error(path + ": " + why);
}

at::ScalarType dtype_of(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return at::kFloat;
  if (descr == "<f8") return at::kDouble;
  if (descr == "<i4") return at::kInt;
  if (descr == "<i8") return at::kLong;
  throw bad(path, "unsupported dtype '" + descr + "' (need <f4, <f8, <i4 or <i8)");
}

std::string descr_of(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "<f4";
    case at::kDouble: return "<f8";
    case at::kInt: return "<i4";
    case at::kLong: return "<i8";
    default: throw std::runtime_error("write_npy: unsupported dtype");
  }
}

// The value that follows 'key': in a header such as {'descr': '<f4', 'shape': (3, 4), }.
std::string field(const std::string& path, const std::string& header, const std::string& key) {
  auto at = header.find("'" + key + "'");
  if (at == std::string::npos) throw bad(path, "header has no '" + key + "'");
  auto colon = header.find(':', at);
  auto start = header.find_first_not_of(' ', colon + 1);
  if (header[start] == '\'') return header.substr(start + 1, header.find('\'', start + 1) - start - 1);
  if (header[start] == '(') return header.substr(start + 1, header.find(')', start) - start - 1);
  return header.substr(start, header.find_first_of(",}", start) - start);
}

}  // namespace

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad(path, "cannot open");
  char magic[6];
  in.read(magic, 6);
  if (!in || std::string(magic + 1, 5) != "NUMPY" || static_cast<unsigned char>(magic[0]) != 0x93)
    throw bad(path, "not a .npy file");
  unsigned char version[2];
  in.read(reinterpret_cast<char*>(version), 2);
  uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char len[2];
    in.read(reinterpret_cast<char*>(len), 2);
    header_len = len[0] | (len[1] << 8);
  } else {
    unsigned char len[4];
    in.read(reinterpret_cast<char*>(len), 4);
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
  }
  std::string header(header_len, ' ');
  in.read(&header[0], header_len);
  if (!in) throw bad(path, "truncated header");
  if (field(path, header, "fortran_order") != "False") throw bad(path, "Fortran order is not supported");
  auto type = dtype_of(path, field(path, header, "descr"));
  std::vector<int64_t> shape;
  std::stringstream dims(field(path, header, "shape"));
  std::string item;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    shape.push_back(std::stoll(item));
  }
  auto tensor = at::empty(shape, at::TensorOptions().dtype(type));
  auto bytes = static_cast<std::streamsize>(tensor.numel() * tensor.element_size());
  in.read(static_cast<char*>(tensor.data_ptr()), bytes);
  if (in.gcount() != bytes) throw bad(path, "holds fewer values than its shape says");
  return tensor;
}

void write_npy(const std::string& path, const at::Tensor& tensor) {
  auto t = tensor.contiguous().cpu();
  std::string shape;
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 || i + 1 < t.dim() ? "," : "");
  std::string header = "{'descr': '" + descr_of(t.scalar_type()) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error(path + ": cannot write");
  const char magic[] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(magic, 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
}

}  // namespace gnnx
