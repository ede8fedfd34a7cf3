// `cadenza plugin new <kind> <name>`: writes a plugin folder that builds as
// is against the installed Cadenza package (find_package(Cadenza)).
#pragma once

#include <string>

namespace cadenza {

// Creates `<dir>/<name>/` with CMakeLists.txt, a source file and a README.
// Throws Error if the kind or name is invalid or the folder exists.
std::string scaffold_plugin(const std::string& kind, const std::string& name,
                            const std::string& dir);

}  // namespace cadenza
