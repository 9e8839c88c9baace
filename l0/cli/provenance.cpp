#include "l0/cli/provenance.h"

#include <openssl/evp.h>

#include <vector>

#include "exit-tracer/host_file.h"

namespace nestbed::cli {

// nestbed_version() is generated at build time: l0/cli/write_version.cmake.

nlohmann::ordered_json sha256_of_file(const std::string& path) {
  std::vector<uint8_t> bytes;
  try {
    bytes = InputFile(path, "input").read_all();
  } catch (const InputError&) {
    return nullptr;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr)) return nullptr;
  static const char HEX[] = "0123456789abcdef";
  std::string text;
  for (unsigned i = 0; i < length; ++i) {
    text += HEX[digest[i] >> 4];
    text += HEX[digest[i] & 15];
  }
  return text;
}

}  // namespace nestbed::cli
