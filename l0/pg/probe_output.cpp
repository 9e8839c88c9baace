#include "l0/pg/probe_output.h"

#include <sstream>

#include "arch/x86/exceptions.h"

namespace nestbed::pg {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

[[noreturn]] void malformed(const std::string& line, const std::string& what) {
  throw ProbeOutputError("pg-probe output: " + what + " in line '" + line + "'");
}

uint64_t hex(const std::string& text, const std::string& line) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(text, &used, 16);
    if (used != text.size()) malformed(line, "bad hex number '" + text + "'");
    return v;
  } catch (const std::logic_error&) {
    malformed(line, "bad hex number '" + text + "'");
  }
}

// "key=value" -> value, checking the key.
std::string value_of(const std::string& word, const std::string& key, const std::string& line) {
  if (word.rfind(key + "=", 0) != 0) malformed(line, "expected " + key + "=");
  return word.substr(key.size() + 1);
}

std::vector<StateChange> parse_diff(const std::string& text, const std::string& line) {
  std::vector<StateChange> out;
  if (text == "-") return out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t a = item.find(':'), b = item.rfind(':');
    if (a == std::string::npos || a == b) malformed(line, "bad state change '" + item + "'");
    out.push_back({item.substr(0, a), item.substr(a + 1, b - a - 1), item.substr(b + 1)});
  }
  return out;
}

// obs ID MODE CPL CONFIG insn=HEX fault=-|VEC [err=HEX at=insn|other] out=... diff=...
Observation parse_observation(const std::string& line) {
  std::vector<std::string> w = words(line);
  if (w.size() != 9 && w.size() != 11) malformed(line, "wrong number of fields");
  Observation o;
  o.id = w[1];
  o.mode = w[2];
  if (o.mode != MODE_64 && o.mode != MODE_COMPAT && o.mode != MODE_PROTECTED) malformed(line, "bad mode");
  if (w[3] != "0" && w[3] != "3") malformed(line, "bad CPL");
  o.cpl = unsigned(w[3][0] - '0');
  o.config = w[4];
  o.insn_rip = hex(value_of(w[5], "insn", line), line);
  std::string fault = value_of(w[6], "fault", line);
  size_t next = 7;
  if (fault != "-") {
    if (w.size() != 11) malformed(line, "a fault without err= and at=");
    o.fault = unsigned(std::stoul(fault));
    o.error_code = hex(value_of(w[7], "err", line), line);
    o.fault_at_insn = value_of(w[8], "at", line) == "insn";
    next = 9;
  } else if (w.size() != 9) {
    malformed(line, "wrong number of fields");
  }
  o.outputs = value_of(w[next], "out", line);
  o.diff = parse_diff(value_of(w[next + 1], "diff", line), line);
  return o;
}

}  // namespace

std::string mode_name(const std::string& mode) {
  if (mode == MODE_64) return "64-bit";
  if (mode == MODE_COMPAT) return "compatibility";
  if (mode == MODE_PROTECTED) return "32-bit protected";
  return mode;
}

std::string mode_cell(const std::string& mode) {
  if (mode == MODE_64) return "64";
  if (mode == MODE_COMPAT) return "compat";
  if (mode == MODE_PROTECTED) return "pm32";
  return mode;
}

ProbeRun parse_probe_output(const std::string& text) {
  ProbeRun run;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("obs ", 0) == 0) {
      run.observations.push_back(parse_observation(line));
    } else if (line.rfind("insn ", 0) == 0) {
      std::vector<std::string> w = words(line);
      if (w.size() < 5) malformed(line, "wrong number of fields");
      size_t text_at = line.find(' ', line.find("compat=")) + 1;
      run.entries.push_back({w[1], line.substr(text_at), "", value_of(w[2], "time", line) == "1",
                             value_of(w[3], "compat", line) == "1"});
    } else if (line.rfind("insn32 ", 0) == 0) {
      std::vector<std::string> w = words(line);
      if (w.size() < 3 || run.entries.empty() || run.entries.back().id != w[1]) malformed(line, "insn32 without its insn");
      run.entries.back().text32 = line.substr(line.find(' ', 7) + 1);
    } else if (line.rfind("config ", 0) == 0) {
      std::vector<std::string> w = words(line);
      if (w.size() != 3) malformed(line, "wrong number of fields");
      run.configs[w[1]] = value_of(w[2], "supported", line) == "1";
    } else if (line.rfind("pg-probe: ", 0) == 0 && line.find(" runs") != std::string::npos) {
      std::vector<std::string> w = words(line);
      run.complete = w.size() == 3 && std::stoul(w[1]) == run.observations.size();
    }
  }
  return run;
}

const Observation* ProbeRun::find(const std::string& id, const std::string& mode, unsigned cpl,
                                  const std::string& config) const {
  for (const Observation& o : observations)
    if (o.id == id && o.mode == mode && o.cpl == cpl && o.config == config) return &o;
  return nullptr;
}

const CatalogueEntry* ProbeRun::entry(const std::string& id) const {
  for (const CatalogueEntry& e : entries)
    if (e.id == id) return &e;
  return nullptr;
}

std::string vector_name(unsigned vector) {
  if (vector > 31) return "vector " + std::to_string(vector);
  std::string text = arch::exception_name(uint8_t(vector));
  return text.substr(0, text.find(' '));
}

}  // namespace nestbed::pg
