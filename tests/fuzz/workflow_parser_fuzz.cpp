// libFuzzer target: workflow.toml text -> parse_workflow_text.
//
// The parser's contract is that any input either parses or throws
// cadenza::Error with a message; a crash, a sanitizer report (ASan, UBSan),
// a hang or any other exception is a bug. Run by tests/fuzz/run.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "error.h"
#include "workflow_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cadenza::parse_workflow_text(text, "/tmp/cadenza-fuzz/workflow.toml");
  } catch (const cadenza::Error&) {
    // A clear error: what bad input must get.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_workflow_text threw something other than cadenza::Error: %s\n", e.what());
    std::abort();
  }
  return 0;
}
