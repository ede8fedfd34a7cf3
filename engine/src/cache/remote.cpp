#include "remote.h"

#include <algorithm>
#include <filesystem>

#include "error.h"
#include "fs_util.h"
#include "ssh_remote.h"

namespace cadenza {

namespace {

// Copies through a temp file in the destination directory, then renames.
void copy_atomically(const std::string& from, const std::string& to) {
  const fs::path dest(to);
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  const fs::path tmp = dest.parent_path() / (".tmp-" + unique_suffix());
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error("cannot copy " + from + " to " + to + ": " + ec.message());
  fs::rename(tmp, dest, ec);
  if (ec) {
    remove_all_quietly(tmp);
    throw Error("cannot copy " + from + " to " + to + ": " + ec.message());
  }
}

const char* kSupported =
    "supported: a directory path (or file:///path), ssh://[user@]host[:port]/path, or [user@]host:path";

}  // namespace

std::set<std::string> DirectoryRemote::existing(const std::vector<std::string>& rels) {
  std::set<std::string> there;
  std::error_code ec;
  for (const auto& rel : rels)
    if (fs::exists(root_ + "/" + rel, ec)) there.insert(rel);
  return there;
}

std::vector<std::string> DirectoryRemote::list(const std::string& rel_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(root_ + "/" + rel_dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> DirectoryRemote::upload(const std::string& local_root, const std::vector<std::string>& rels,
                                                 bool replace) {
  std::vector<std::string> copied;
  std::error_code ec;
  for (const auto& rel : rels)
    if (replace || !fs::exists(root_ + "/" + rel, ec)) {
      copy_atomically(local_root + "/" + rel, root_ + "/" + rel);
      copied.push_back(rel);
    }
  return copied;
}

std::vector<std::string> DirectoryRemote::download(const std::vector<std::string>& rels, const std::string& local_root) {
  std::vector<std::string> copied;
  std::error_code ec;
  for (const auto& rel : rels)
    if (fs::exists(root_ + "/" + rel, ec)) {
      copy_atomically(root_ + "/" + rel, local_root + "/" + rel);
      copied.push_back(rel);
    }
  return copied;
}

std::string RemoteAddress::display() const {
  if (kind == Kind::kDirectory) return path;
  return "ssh://" + (user.empty() ? "" : user + "@") + host + (port ? ":" + std::to_string(port) : "") +
         (path.rfind('/', 0) == 0 ? "" : "/~/") + path;
}

RemoteAddress parse_remote_address(const std::string& where, const std::string& base) {
  RemoteAddress a;
  if (where.empty()) throw Error("no remote: set [workflow].remote or pass --remote (" + std::string(kSupported) + ")");
  const size_t scheme_end = where.find("://");
  const size_t colon = where.find(':'), slash = where.find('/');
  if (scheme_end == std::string::npos && (colon == std::string::npos || (slash != std::string::npos && slash < colon))) {
    a.path = fs::absolute(fs::path(base) / where).lexically_normal().string();  // a directory
    return a;
  }
  if (scheme_end == std::string::npos) {  // scp-like [user@]host:path
    a.kind = RemoteAddress::Kind::kSsh;
    std::string host = where.substr(0, colon);
    a.path = where.substr(colon + 1);
    if (const size_t at = host.find('@'); at != std::string::npos) {
      a.user = host.substr(0, at);
      host = host.substr(at + 1);
    }
    a.host = host;
  } else {
    const std::string scheme = where.substr(0, scheme_end), rest = where.substr(scheme_end + 3);
    if (scheme == "file") {
      if (rest.empty() || rest[0] != '/') throw Error("remote '" + where + "': a file:// remote needs an absolute path (file:///path)");
      a.path = fs::path(rest).lexically_normal().string();
      return a;
    }
    if (scheme != "ssh") throw Error("remote '" + where + "': the scheme '" + scheme + "://' is not supported (" + kSupported + ")");
    a.kind = RemoteAddress::Kind::kSsh;
    const size_t path_at = rest.find('/');
    std::string authority = rest.substr(0, path_at);
    a.path = path_at == std::string::npos ? "" : rest.substr(path_at + 1);
    if (a.path.rfind("~/", 0) == 0) a.path = a.path.substr(2);
    else if (!a.path.empty()) a.path = "/" + a.path;  // ssh://host/abs/path
    if (const size_t at = authority.rfind('@'); at != std::string::npos) {
      a.user = authority.substr(0, at);
      authority = authority.substr(at + 1);
    }
    if (const size_t pc = authority.rfind(':'); pc != std::string::npos) {
      try {
        a.port = std::stoi(authority.substr(pc + 1));
      } catch (const std::exception&) {
        throw Error("remote '" + where + "': '" + authority.substr(pc + 1) + "' is not a port number");
      }
      authority = authority.substr(0, pc);
    }
    a.host = authority;
  }
  if (a.host.empty() || a.host.find_first_of(" '\"\\;|&$`") != std::string::npos || a.host[0] == '-')
    throw Error("remote '" + where + "': '" + a.host + "' is not a host name (" + kSupported + ")");
  if (a.path.empty() || a.path.find('\0') != std::string::npos)
    throw Error("remote '" + where + "': no path on the host (" + kSupported + ")");
  return a;
}

std::unique_ptr<Remote> open_remote(const RemoteAddress& address, bool for_writing) {
  if (address.kind == RemoteAddress::Kind::kSsh) return open_ssh_remote(address, for_writing);
  std::error_code ec;
  if (!fs::is_directory(address.path, ec)) {
    if (!for_writing) throw Error("remote " + address.path + " does not exist");
    fs::create_directories(address.path, ec);
    if (ec) throw Error("cannot create the remote " + address.path + ": " + ec.message());
  }
  return std::make_unique<DirectoryRemote>(address.path);
}

}  // namespace cadenza
