// Replay main for the Chorus fuzz targets, for builds without libFuzzer (g++, ctest).
//
// Usage: <name>_replay PATH...   Each PATH is a file or a directory (walked recursively,
// hidden files such as .keep skipped, sorted so runs are reproducible). Every file is passed
// once to LLVMFuzzerTestOneInput; a failed invariant aborts, which fails the test. A PATH
// that does not exist is an error, so a misspelt corpus directory cannot pass silently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "command_line.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool is_hidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

bool collect(const fs::path& path, std::vector<fs::path>& files) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) {
    std::fprintf(stderr, "replay: no such file or directory: %s\n", path.string().c_str());
    return false;
  }
  std::vector<fs::path> found;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (is_hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) found.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: cannot read %s: %s\n", path.string().c_str(), ec.message().c_str());
    return false;
  }
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string program = fs::path(argv[0]).filename().string();
  std::vector<std::string> paths;
  chorus::tools::CommandLine(program, "usage: " + program +
                                          " FILE_OR_DIR...\n\n"
                                          "Runs the fuzz target once on every file (directories walked).\n\n"
                                          "  --help   this text\n")
      .positional(&paths, 1, static_cast<std::size_t>(argc))
      .parse(argc, argv);
  std::vector<fs::path> files;
  bool ok = true;
  for (const std::string& path : paths) ok = collect(path, files) && ok;
  if (!ok) return 2;

  std::size_t ran = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot open %s\n", file.string().c_str());
      return 2;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Print the name first so that a crash report says which input caused it.
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.string().c_str(), bytes.size());
    // A heap copy of exactly the input's size, so ASan catches reads past its end.
    std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
    static std::uint8_t no_bytes = 0;  // libFuzzer never passes a null pointer either
    LLVMFuzzerTestOneInput(input.empty() ? &no_bytes : input.data(), input.size());
    ++ran;
  }
  std::printf("replay: %zu inputs ran\n", ran);
  return 0;
}
