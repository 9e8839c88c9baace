// What a run was made of, for --stats: nestbed's version and the SHA-256 of
// each input file, so a result can be traced back to exactly what ran.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace nestbed::cli {

// "0.1.0 (git 1b5e7e8ab2c4)", "-dirty" appended for uncommitted changes.
const char* nestbed_version();
// The file's SHA-256 in hex (as sha256sum prints it), or null when it
// cannot be read any more.
nlohmann::ordered_json sha256_of_file(const std::string& path);

}  // namespace nestbed::cli
