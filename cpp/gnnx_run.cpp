// gnnx_run: load a gnnx AOTInductor package and run it on a graph stored as .npy files.
//
//   gnnx_run MODEL.pt2 OUTPUT.npy INPUT0.npy [INPUT1.npy ...]
//
// Inputs come in the order the model's forward takes them (e.g. x.npy edge_index.npy);
// they are checked against the metadata gnnx stored in the package (count, dtype, rank,
// fixed sizes, node/edge counts that must agree, edge_index range, minimum sizes) before
// running, since AOTInductor does not check inputs itself. Exit codes: 0 ok, 2 bad input
// or usage, 1 other failure.
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/torch.h>

#include "npy.h"

namespace {

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Metadata = std::unordered_map<std::string, std::string>;

std::string get(const Metadata& metadata, const std::string& key, const std::string& fallback = "") {
  auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) shape.push_back(std::stoll(item));
  return shape;
}

std::string shape_str(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    default: return "other";
  }
}

void check_inputs(const Metadata& metadata, const std::vector<at::Tensor>& inputs) {
  auto count = get(metadata, "gnnx.num_inputs");
  if (count.empty()) return;  // not a gnnx package: nothing to check against
  if (std::stoul(count) != inputs.size())
    throw BadInput("expected " + count + " inputs, got " + std::to_string(inputs.size()));
  std::map<std::string, int64_t> sizes;
  int64_t edge_index_at = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto prefix = "gnnx.input." + std::to_string(i) + ".";
    const auto name = get(metadata, prefix + "name");
    const auto& t = inputs[i];
    const auto dtype = get(metadata, prefix + "dtype");
    if (dtype_name(t.scalar_type()) != dtype)
      throw BadInput(name + ": expected dtype " + dtype + ", got " + dtype_name(t.scalar_type()));
    const auto shape = parse_shape(get(metadata, prefix + "shape"));
    if (static_cast<int64_t>(shape.size()) != t.dim())
      throw BadInput(name + ": expected " + std::to_string(shape.size()) + " dimensions, got shape " + shape_str(t));
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] != -1 && shape[d] != t.size(static_cast<int64_t>(d)))
        throw BadInput(name + ": dimension " + std::to_string(d) + " must be " + std::to_string(shape[d]) +
                       ", got shape " + shape_str(t));
    const auto counts = get(metadata, prefix + "counts");
    const auto axis = get(metadata, prefix + "axis");
    if (!counts.empty() && !axis.empty()) {
      const int64_t size = t.size(std::stoll(axis));
      auto [it, fresh] = sizes.emplace(counts, size);
      if (!fresh && it->second != size)
        throw BadInput(name + ": " + counts + " is " + std::to_string(size) + " here but " +
                       std::to_string(it->second) + " in an earlier input");
    }
    if (t.is_floating_point() && !at::isfinite(t).all().item<bool>())
      throw BadInput(name + ": contains NaN or infinite values");
    if (name == "edge_index") edge_index_at = static_cast<int64_t>(i);
  }
  for (const auto& [counts, size] : sizes) {
    const auto least = get(metadata, "gnnx.min." + counts);
    if (!least.empty() && size < std::stoll(least))
      throw BadInput("this program needs " + counts + " >= " + least + ", got " + std::to_string(size));
  }
  if (edge_index_at >= 0 && sizes.count("num_nodes") && inputs[edge_index_at].numel() > 0) {
    const auto& e = inputs[edge_index_at];
    const int64_t low = e.min().item<int64_t>(), high = e.max().item<int64_t>();
    const int64_t n = sizes["num_nodes"];
    if (low < 0 || high >= n)
      throw BadInput("edge_index: node index " + std::to_string(low < 0 ? low : high) + " is outside [0, " +
                     std::to_string(n) + ") for " + std::to_string(n) + " nodes");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: gnnx_run MODEL.pt2 OUTPUT.npy INPUT0.npy [INPUT1.npy ...]\n";
    return 2;
  }
  try {
    std::vector<at::Tensor> inputs;
    for (int i = 3; i < argc; ++i) inputs.push_back(gnnx::read_npy(argv[i]));
    torch::inductor::AOTIModelPackageLoader loader(argv[1]);
    const auto metadata = loader.get_metadata();
    check_inputs(metadata, inputs);
    if (get(metadata, "AOTI_DEVICE_KEY") == "cuda")  // a CUDA package: inputs to the GPU, output back
      for (auto& t : inputs) t = t.to(at::kCUDA);
    auto outputs = loader.run(inputs);
    if (outputs.empty()) throw std::runtime_error("the model returned no output");
    gnnx::write_npy(argv[2], outputs[0].cpu().contiguous());
    std::cout << "gnnx_run: wrote " << argv[2] << " " << shape_str(outputs[0]) << "\n";
    return 0;
  } catch (const BadInput& err) {
    std::cerr << "gnnx_run: bad input: " << err.what() << "\n";
    return 2;
  } catch (const std::exception& err) {
    std::cerr << "gnnx_run: error: " << err.what() << "\n";
    return 1;
  }
}
