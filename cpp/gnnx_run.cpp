// gnnx_run: load a gnnx AOTInductor package and run it on a graph stored as .npy files.
//
//   gnnx_run MODEL.pt2 OUTPUT.npy INPUT0.npy [INPUT1.npy ...]
//
// A model with several outputs (per node type) writes each beside OUTPUT.npy, named by
// the output: out__paper.npy, out__author.npy.
//
// Inputs come in the order the model's forward takes them (e.g. x.npy edge_index.npy; for a
// heterogeneous model one file per type, in the package's order: x__paper.npy x__author.npy
// edge_index__author__writes__paper.npy ...); they are checked against the metadata gnnx stored in the package (count, dtype, rank,
// fixed sizes, node/edge counts that must agree, each edge_index row's range, minimum sizes) before
// running, since AOTInductor does not check inputs itself. Exit codes: 0 ok, 2 bad input
// or usage, 1 other failure.
#include <algorithm>
#include <chrono>
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

std::vector<std::string> split(const std::string& text, char separator = ',') {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

void check_range(const std::string& name, const std::string& what, const at::Tensor& index, int64_t count,
                 const std::string& type) {
  const int64_t low = index.min().item<int64_t>(), high = index.max().item<int64_t>();
  if (low < 0 || high >= count)
    throw BadInput(name + ": " + what + " " + std::to_string(low < 0 ? low : high) + " is outside [0, " +
                   std::to_string(count) + ") for " + std::to_string(count) + type + " nodes");
}

void check_inputs(const Metadata& metadata, const std::vector<at::Tensor>& inputs) {
  auto count = get(metadata, "gnnx.num_inputs");
  if (count.empty()) return;  // not a gnnx package: nothing to check against
  if (std::stoul(count) != inputs.size())
    throw BadInput("expected " + count + " inputs, got " + std::to_string(inputs.size()));
  std::map<std::string, int64_t> sizes;
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
  }
  for (const auto& [counts, size] : sizes) {
    const auto least = get(metadata, "gnnx.min." + counts);
    if (!least.empty() && size < std::stoll(least))
      throw BadInput("this program needs " + counts + " >= " + least + ", got " + std::to_string(size));
  }
  // Node indices: each edge_index row against the node count it refers to (one count for a
  // homogeneous graph, the source and destination types' for a relation).
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto prefix = "gnnx.input." + std::to_string(i) + ".";
    const auto bounds = split(get(metadata, prefix + "index_counts"));
    if (bounds.size() != 2 || inputs[i].numel() == 0 || !sizes.count(bounds[0]) || !sizes.count(bounds[1])) continue;
    const auto name = get(metadata, prefix + "name");
    if (bounds[0] == bounds[1]) {
      check_range(name, "node index", inputs[i], sizes[bounds[0]], "");
    } else {
      const char* roles[2] = {"source index", "destination index"};
      for (int row = 0; row < 2; ++row) {
        const auto at = bounds[row].find("__");
        const auto type = at == std::string::npos ? "" : " '" + bounds[row].substr(at + 2) + "'";
        check_range(name, roles[row], inputs[i][row], sizes[bounds[row]], type);
      }
    }
  }
}

// Checks the inputs, moves them to the GPU for a CUDA package (in place) and runs the model.
std::vector<at::Tensor> run_checked(torch::inductor::AOTIModelPackageLoader& loader, const Metadata& metadata,
                                    std::vector<at::Tensor>& inputs) {
  check_inputs(metadata, inputs);
  if (get(metadata, "AOTI_DEVICE_KEY") == "cuda")
    for (auto& t : inputs) t = t.to(at::kCUDA);
  return loader.run(inputs);
}

// GNNX_RUN_REPEAT=N: run N more times on the same (device-resident) inputs and print the
// median latency per call, synchronised with the GPU for a CUDA package (benchmarks).
void report_latency(torch::inductor::AOTIModelPackageLoader& loader, std::vector<at::Tensor>& inputs, int repeat) {
  const bool cuda = !inputs.empty() && inputs[0].is_cuda();
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    if (cuda) torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    loader.run(inputs);
    if (cuda) torch::cuda::synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  std::cout << "gnnx_run: median latency " << ms[ms.size() / 2] << " ms over " << ms.size() << " runs\n";
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

// gnnx_run --serve MODEL.pt2: load once, then answer requests on stdin, one per line, fields
// separated by tabs: "run<TAB>OUT_PREFIX<TAB>INPUT0.npy<TAB>..." writes OUT_PREFIX0.npy, ...
// and replies "ok<TAB>file0<TAB>..."; a failure replies "error<TAB>bad input|error<TAB>message"
// and the loop goes on; "quit" or the end of stdin stops it. Before the first request it prints
// the package's metadata ("meta<TAB>key<TAB>value" lines) and "ready". This is how a Python
// process (gnnx.export.CppPackagedModel, the Triton Python backend) serves a package through
// the C++ loader where the Python one cannot load it.
int serve(const std::string& package) {
  torch::inductor::AOTIModelPackageLoader loader(package);
  const auto metadata = loader.get_metadata();
  for (const auto& entry : metadata) std::cout << "meta\t" << entry.first << "\t" << one_line(entry.second) << "\n";
  std::cout << "ready" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    const auto fields = split(line, '\t');
    if (fields.empty() || fields[0] == "quit") break;
    try {
      if (fields[0] != "run" || fields.size() < 2) throw std::runtime_error("unknown request: " + fields[0]);
      std::vector<at::Tensor> inputs;
      for (size_t i = 2; i < fields.size(); ++i) inputs.push_back(gnnx::read_npy(fields[i]));
      const auto outputs = run_checked(loader, metadata, inputs);
      std::string reply = "ok";
      for (size_t i = 0; i < outputs.size(); ++i) {
        const auto file = fields[1] + std::to_string(i) + ".npy";
        gnnx::write_npy(file, outputs[i].cpu().contiguous());
        reply += "\t" + file;
      }
      std::cout << reply << std::endl;
    } catch (const BadInput& err) {
      std::cout << "error\tbad input\t" << one_line(err.what()) << std::endl;
    } catch (const std::exception& err) {
      std::cout << "error\terror\t" << one_line(err.what()) << std::endl;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--serve") {
    try {
      return serve(argv[2]);
    } catch (const std::exception& err) {
      std::cerr << "gnnx_run: error: " << err.what() << "\n";
      return 1;
    }
  }
  if (argc < 4) {
    std::cerr << "usage: gnnx_run MODEL.pt2 OUTPUT.npy INPUT0.npy [INPUT1.npy ...]\n"
                 "       gnnx_run --serve MODEL.pt2   (requests on stdin, see serve())\n";
    return 2;
  }
  try {
    std::vector<at::Tensor> inputs;
    for (int i = 3; i < argc; ++i) inputs.push_back(gnnx::read_npy(argv[i]));
    torch::inductor::AOTIModelPackageLoader loader(argv[1]);
    const auto metadata = loader.get_metadata();
    auto outputs = run_checked(loader, metadata, inputs);  // a CUDA package: inputs to the GPU, outputs back below
    if (outputs.empty()) throw std::runtime_error("the model returned no output");
    if (const char* repeat = std::getenv("GNNX_RUN_REPEAT")) report_latency(loader, inputs, std::atoi(repeat));
    // One output: OUTPUT.npy. Several (a heterogeneous model's per-type outputs): one file
    // each in OUTPUT.npy's folder, named by the output (out__paper.npy, out__author.npy).
    const std::string path = argv[2];
    const auto slash = path.rfind('/');
    const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string file = path;
      if (outputs.size() > 1) {
        auto name = get(metadata, "gnnx.output." + std::to_string(i) + ".name");
        file = folder + (name.empty() ? "out" + std::to_string(i) : name) + ".npy";
      }
      gnnx::write_npy(file, outputs[i].cpu().contiguous());
      std::cout << "gnnx_run: wrote " << file << " " << shape_str(outputs[i]) << "\n";
    }
    return 0;
  } catch (const BadInput& err) {
    std::cerr << "gnnx_run: bad input: " << err.what() << "\n";
    return 2;
  } catch (const std::exception& err) {
    std::cerr << "gnnx_run: error: " << err.what() << "\n";
    return 1;
  }
}
