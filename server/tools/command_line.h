// Command lines of the Chorus programs (test servers, test apps, benchmarks): `--help` (or
// `-h`) prints the usage on stdout and exits 0 before anything starts; an unknown flag, a
// missing or malformed value, or a stray argument prints "<program>: <what> (see --help)" on
// stderr and exits 2. Header-only, no Chorus dependency, so that every program can use it.
//
//   bool echo = false;
//   int port = 0;
//   chorus::tools::CommandLine cl("chorus-x", "usage: chorus-x [--port N] [--echo]\n");
//   cl.number("--port", &port, 0, 65535).flag("--echo", &echo).parse(argc, argv);
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace chorus::tools {

class CommandLine {
 public:
  CommandLine(std::string program, std::string usage) : program_(std::move(program)), usage_(std::move(usage)) {}

  // --name, without a value: sets *out.
  CommandLine& flag(std::string name, bool* out) {
    options_.push_back({std::move(name), false, [out](const std::string&) {
                          *out = true;
                          return std::string();
                        }});
    return *this;
  }
  // --name VALUE: any non-empty text.
  CommandLine& text(std::string name, std::string* out) {
    options_.push_back({std::move(name), true, [out](const std::string& v) {
                          if (v.empty()) return std::string("needs a non-empty value");
                          *out = v;
                          return std::string();
                        }});
    return *this;
  }
  // --name N: plain decimal digits (no sign, no spaces), from min to max.
  template <class T>
  CommandLine& number(std::string name, T* out, std::uint64_t min, std::uint64_t max) {
    options_.push_back({std::move(name), true, [out, min, max](const std::string& v) {
                          std::uint64_t n = 0;
                          bool ok = !v.empty() && v.size() <= 19;
                          for (char c : v) {
                            ok = ok && c >= '0' && c <= '9';
                            if (ok) n = n * 10 + static_cast<std::uint64_t>(c - '0');
                          }
                          if (!ok || n < min || n > max) {
                            return "needs a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                                   ", got '" + v + "'";
                          }
                          *out = static_cast<T>(n);
                          return std::string();
                        }});
    return *this;
  }
  // --name X: a decimal number (strtod syntax, finite) from min to max.
  CommandLine& real(std::string name, double* out, double min, double max) {
    options_.push_back({std::move(name), true, [out, min, max](const std::string& v) {
                          char* end = nullptr;
                          double d = v.empty() ? 0 : std::strtod(v.c_str(), &end);
                          if (v.empty() || *end != '\0' || !(d >= min && d <= max)) {
                            char range[64];
                            std::snprintf(range, sizeof range, "%.15g to %.15g", min, max);
                            return "needs a number from " + std::string(range) + ", got '" + v + "'";
                          }
                          *out = d;
                          return std::string();
                        }});
    return *this;
  }
  // Arguments that are not flags, in order: at least `min`, at most `max`.
  CommandLine& positional(std::vector<std::string>* out, std::size_t min, std::size_t max) {
    positional_ = out;
    min_positional_ = min;
    max_positional_ = max;
    return *this;
  }

  // Parses argv[first..]; exits on --help (0) and on any error (2).
  void parse(int argc, char** argv, int first = 1) const {
    std::vector<std::string> rest;
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::fputs(usage_.c_str(), stdout);
        std::fflush(stdout);
        std::exit(0);
      }
    }
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.size() > 1 && arg[0] == '-') {
        const Option* option = nullptr;
        for (const Option& o : options_) {
          if (o.name == arg) option = &o;
        }
        if (option == nullptr) fail("unknown option " + arg);
        std::string value;
        if (option->takes_value) {
          if (i + 1 >= argc) fail(arg + " needs a value");
          value = argv[++i];
        }
        std::string error = option->apply(value);
        if (!error.empty()) fail(arg + " " + error);
      } else if (positional_ != nullptr && rest.size() < max_positional_) {
        rest.push_back(arg);
      } else {
        fail("unexpected argument '" + arg + "'");
      }
    }
    if (rest.size() < min_positional_) fail("missing arguments");
    if (positional_ != nullptr) *positional_ = std::move(rest);
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), message.c_str());
    std::exit(2);
  }

 private:
  struct Option {
    std::string name;
    bool takes_value;
    std::function<std::string(const std::string&)> apply;  // error message, empty when fine
  };
  std::string program_;
  std::string usage_;
  std::vector<Option> options_;
  std::vector<std::string>* positional_ = nullptr;
  std::size_t min_positional_ = 0;
  std::size_t max_positional_ = 0;
};

}  // namespace chorus::tools
