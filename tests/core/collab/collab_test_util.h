// Helpers shared by the collab tests.
#pragma once

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"

namespace chorus::collab::testing {

// shared/traces beside the repository: CHORUS_TRACES_DIR (environment, then compile
// definition) or found from this file's path (<repo>/tests/core/collab/ -> <repo>/../shared).
inline std::string traces_dir() {
  if (const char* env = std::getenv("CHORUS_TRACES_DIR")) return env;
#ifdef CHORUS_TRACES_DIR
  return CHORUS_TRACES_DIR;
#else
  std::string here = __FILE__;
  std::size_t cut = here.rfind("/tests/core/collab/");
  if (cut == std::string::npos) return "../shared/traces";
  return here.substr(0, cut) + "/../shared/traces";
#endif
}

#define CHORUS_EXPECT_SOUND(doc) EXPECT_EQ((doc).check_invariants(), "")

}  // namespace chorus::collab::testing
