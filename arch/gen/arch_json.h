// The JSON form of arch/'s tables, for analysis/ and other non-C++ users.
// Host-only (std::string): the generator nestbed_arch_jsongen
// (nestbed_arch_json.cpp) writes it to build/arch/nestbed_arch.json, and the
// unit tests parse it. Every row comes from the .def tables by the same
// X-macros the C++ headers use, so the JSON cannot drift from them.
//
// Schema (version 1), one object:
//   schema_version, sdm_editions
//   vmcs_fields:   [{name, encoding, high_encoding|null, width, type, index}]
//                  width "16"|"32"|"64"|"natural"; type "control"|"exit_info"|"guest"|"host"
//   vmcs_max_index
//   shadow_fields: [{name, access}]   access "ro"|"rw" (arch/vmx/shadow_fields.def)
//   exit_reasons:  [{name, number, qualification, description}]
//                  qualification names an entry of layouts
//   control_words: [{name, vmcs_field, bits, capability_msr|null,
//                    true_capability_msr|null, default1, defined, title,
//                    controls: [{name, bit, mask, description}]}]
//   vm_instruction_errors, vmx_aborts: [{name, number, text}]
//   layouts:       [{name, group, width, title,
//                    fields: [{name, lsb, bits, mask, description}],
//                    values: [{field, name, value, description}]}]
//                  group "exit_qualification"|"ept"|"capability_msrs"
//   exceptions:    [{name, vector, has_error_code, mnemonic}]   (arch/x86/exceptions.def)
//   msrs:          [{name, index}]                             (arch/x86/msr.def)
#pragma once
#include <stdint.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"

namespace nestbed::arch_json {

inline constexpr int kSchemaVersion = 1;

namespace detail {

inline void put_string(std::string& out, const char* s) {
  out += '"';
  for (; *s; s++) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  out += '"';
}

// One JSON object written on one line: {"k": v, ...}.
class Object {
 public:
  explicit Object(std::string& out) : out_(out) { out_ += '{'; }
  Object& str(const char* k, const char* v) {
    key(k);
    if (v)
      put_string(out_, v);
    else
      out_ += "null";
    return *this;
  }
  Object& num(const char* k, uint64_t v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
  }
  Object& num_or_null(const char* k, uint64_t v, bool present) {
    if (present) return num(k, v);
    key(k);
    out_ += "null";
    return *this;
  }
  Object& boolean(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  // Starts a raw value (an array the caller writes); returns the buffer.
  std::string& raw(const char* k) {
    key(k);
    return out_;
  }
  void close() { out_ += '}'; }

 private:
  void key(const char* k) {
    if (!first_) out_ += ", ";
    first_ = false;
    put_string(out_, k);
    out_ += ": ";
  }
  std::string& out_;
  bool first_ = true;
};

// Top-level arrays: one element per line.
class List {
 public:
  List(std::string& out, const char* name, bool last = false) : out_(out), last_(last) {
    out_ += "  ";
    put_string(out_, name);
    out_ += ": [";
  }
  std::string& item() {
    out_ += first_ ? "\n    " : ",\n    ";
    first_ = false;
    return out_;
  }
  ~List() { out_ += first_ ? (last_ ? "]\n" : "],\n") : (last_ ? "\n  ]\n" : "\n  ],\n"); }

 private:
  std::string& out_;
  bool first_ = true;
  bool last_;
};

struct LayoutRow {
  const char* group;
  const char* name;
  unsigned width;
  const char* title;
};
struct FieldRow {
  const char* layout;
  const char* name;
  unsigned lsb, bits;
  const char* text;
};
struct ValueRow {
  const char* layout;
  const char* field;
  const char* name;
  uint64_t value;
  const char* text;
};

inline const LayoutRow kLayouts[] = {
#define LAYOUT(layout, width, title) {"exit_qualification", #layout, width, title},
#include "arch/vmx/exit_qualification.def"
#define LAYOUT(layout, width, title) {"ept", #layout, width, title},
#include "arch/vmx/ept.def"
#define LAYOUT(layout, width, title) {"capability_msrs", #layout, width, title},
#include "arch/vmx/capability_msrs.def"
};
inline const FieldRow kFields[] = {
#define FIELD(layout, name, lsb, bits, text) {#layout, #name, lsb, bits, text},
#include "arch/vmx/exit_qualification.def"
#define FIELD(layout, name, lsb, bits, text) {#layout, #name, lsb, bits, text},
#include "arch/vmx/ept.def"
#define FIELD(layout, name, lsb, bits, text) {#layout, #name, lsb, bits, text},
#include "arch/vmx/capability_msrs.def"
};
inline const ValueRow kValues[] = {
#define VALUE(layout, field, name, value, text) {#layout, #field, #name, value, text},
#include "arch/vmx/exit_qualification.def"
#define VALUE(layout, field, name, value, text) {#layout, #field, #name, value, text},
#include "arch/vmx/ept.def"
#define VALUE(layout, field, name, value, text) {#layout, #field, #name, value, text},
#include "arch/vmx/capability_msrs.def"
};

}  // namespace detail

// The whole document.
inline std::string generate() {
  using namespace ::arch::vmx;
  using detail::List;
  using detail::Object;
  std::string out = "{\n";
  out += "  \"schema_version\": " + std::to_string(kSchemaVersion) + ",\n";
  out +=
      "  \"sdm_editions\": \"Intel SDM vol. 3; section numbers of the 2016-2022 editions (VMCS chapter 24, "
      "VM exits 27, VMX instructions 30); one chapter later from 2023\",\n";

  {
    List l(out, "vmcs_fields");
    for (const VmcsFieldInfo& f : kVmcsFields)
      Object(l.item())
          .str("name", f.name)
          .num("encoding", f.encoding)
          .num_or_null("high_encoding", f.encoding | 1u, f.width == VmcsWidth::BITS64)
          .str("width", vmcs_width_name(f.width))
          .str("type", vmcs_type_name(f.type))
          .num("index", vmcs_encoding_index(f.encoding))
          .close();
  }
  out += "  \"vmcs_max_index\": " + std::to_string(kVmcsMaxIndex) + ",\n";
  {
    List l(out, "shadow_fields");
    for (const ShadowField& f : kShadowFields)
      Object(l.item())
          .str("name", vmcs_field_name(f.field))
          .str("access", f.access == ShadowAccess::RW ? "rw" : "ro")
          .close();
  }
  {
    List l(out, "exit_reasons");
    for (uint16_t r : kExitReasons)
      Object(l.item())
          .str("name", exit_reason_name(r))
          .num("number", r)
          .str("qualification", exit_reason_qualification(r))
          .str("description", exit_reason_description(r))
          .close();
  }
  {
    List l(out, "control_words");
    for (const ControlWordInfo& w : kControlWords) {
      Object o(l.item());
      o.str("name", w.name)
          .str("vmcs_field", vmcs_field_name(w.vmcs_field))
          .num("bits", w.bits)
          .str("capability_msr", w.capability_msr ? ::arch::msr::name(w.capability_msr) : nullptr)
          .str("true_capability_msr", w.true_capability_msr ? ::arch::msr::name(w.true_capability_msr) : nullptr)
          .num("default1", w.default1)
          .num("defined", control_word_defined(w.word))
          .str("title", w.title);
      std::string& a = o.raw("controls");
      a += '[';
      bool first = true;
      for (const ControlInfo& c : kControls) {
        if (c.word != w.word) continue;
        if (!first) a += ", ";
        first = false;
        Object(a).str("name", c.name).num("bit", c.bit).num("mask", 1ull << c.bit).str("description", c.description).close();
      }
      a += ']';
      o.close();
    }
  }
  {
    List l(out, "vm_instruction_errors");
#define X(name, number, text) Object(l.item()).str("name", #name).num("number", number).str("text", text).close();
#include "arch/vmx/vm_instruction_errors.def"
#undef X
  }
  {
    List l(out, "vmx_aborts");
#define X(name, number, text) Object(l.item()).str("name", #name).num("number", number).str("text", text).close();
#include "arch/vmx/vmx_aborts.def"
#undef X
  }
  {
    List l(out, "layouts");
    for (const detail::LayoutRow& lay : detail::kLayouts) {
      Object o(l.item());
      o.str("name", lay.name).str("group", lay.group).num("width", lay.width).str("title", lay.title);
      std::string& f = o.raw("fields");
      f += '[';
      bool first = true;
      for (const detail::FieldRow& r : detail::kFields) {
        if (std::strcmp(r.layout, lay.name) != 0) continue;
        if (!first) f += ", ";
        first = false;
        Object(f)
            .str("name", r.name)
            .num("lsb", r.lsb)
            .num("bits", r.bits)
            .num("mask", BitField(r.lsb, r.bits).mask)
            .str("description", r.text)
            .close();
      }
      f += ']';
      std::string& v = o.raw("values");
      v += '[';
      first = true;
      for (const detail::ValueRow& r : detail::kValues) {
        if (std::strcmp(r.layout, lay.name) != 0) continue;
        if (!first) v += ", ";
        first = false;
        Object(v).str("field", r.field).str("name", r.name).num("value", r.value).str("description", r.text).close();
      }
      v += ']';
      o.close();
    }
  }
  {
    List l(out, "exceptions");
#define X(name, vec, err, text) \
  Object(l.item()).str("name", #name).num("vector", vec).boolean("has_error_code", err).str("mnemonic", text).close();
#include "arch/x86/exceptions.def"
#undef X
  }
  {
    List l(out, "msrs", /*last=*/true);
#define X(name, index) Object(l.item()).str("name", #name).num("index", index).close();
#include "arch/x86/msr.def"
#undef X
  }
  out += "}\n";
  return out;
}

}  // namespace nestbed::arch_json
