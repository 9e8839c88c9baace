// nestbed_arch_jsongen OUT: writes arch/'s tables as JSON to OUT (see
// arch_json.h for the schema). The build runs it to make
// build/arch/nestbed_arch.json (target nestbed_arch_json).
#include <cstdio>
#include <string>

#include "arch/gen/arch_json.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
    return 2;
  }
  const std::string json = nestbed::arch_json::generate();
  // Write a temporary file and rename it, so a failed run never leaves a
  // truncated JSON behind for the build to consider up to date.
  const std::string tmp = std::string(argv[1]) + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    std::perror(tmp.c_str());
    return 1;
  }
  const bool ok = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  if (std::fclose(f) != 0 || !ok) {
    std::perror(tmp.c_str());
    std::remove(tmp.c_str());
    return 1;
  }
  if (std::rename(tmp.c_str(), argv[1]) != 0) {
    std::perror(argv[1]);
    std::remove(tmp.c_str());
    return 1;
  }
  return 0;
}
