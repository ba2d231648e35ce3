//===- FileIO.cpp - Bounded reads and atomic writes -----------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the bounded readers and the atomic writer with POSIX
// calls, so that every I/O error is seen and reported (LLVM's raw_fd_ostream
// ends the process on an error it finds at close).
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/FileIO.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mlir;
using namespace mlir::mha;

static llvm::Error ioError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (path + ": " + message).str());
}

static std::string errnoText(int error) { return std::strerror(error); }

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
mha::readInputFile(llvm::StringRef path, uint64_t maxBytes, bool allowStdin,
                   bool nullTerminated) {
  if (allowStdin && path == "-") {
    // Read in chunks up to the bound: stdin has no size to check first.
    std::string bytes;
    char chunk[1 << 16];
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return ioError("<stdin>", "cannot read: " + errnoText(errno));
      if (n == 0)
        break;
      if (bytes.size() + size_t(n) > maxBytes)
        return ioError("<stdin>",
                       llvm::formatv("more than {0} bytes; refusing to read "
                                     "further",
                                     maxBytes));
      bytes.append(chunk, size_t(n));
    }
    return llvm::MemoryBuffer::getMemBufferCopy(bytes, "<stdin>");
  }
  struct stat info;
  if (::stat(path.str().c_str(), &info) != 0)
    return ioError(path, "cannot read: " + errnoText(errno));
  if (S_ISDIR(info.st_mode))
    return ioError(path, "cannot read: is a directory");
  if (!S_ISREG(info.st_mode))
    return ioError(path, "cannot read: not a regular file (devices, FIFOs "
                         "and sockets are refused)");
  if (uint64_t(info.st_size) > maxBytes)
    return ioError(path, llvm::formatv("cannot read: {0} bytes, more than "
                                       "the {1} accepted",
                                       uint64_t(info.st_size), maxBytes));
  auto buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, nullTerminated);
  if (!buffer)
    return ioError(path, "cannot read: " + buffer.getError().message());
  return std::move(*buffer);
}

std::string mha::temporaryPathFor(llvm::StringRef path) {
  llvm::SmallString<256> temp(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(temp,
                          "." + llvm::sys::path::filename(path) + ".mha-tmp");
  return std::string(temp);
}

/// The directory `path` lives in ("." for a bare name).
static std::string directoryOf(llvm::StringRef path) {
  llvm::StringRef dir = llvm::sys::path::parent_path(path);
  return dir.empty() ? std::string(".") : dir.str();
}

llvm::Error mha::writeFileAtomically(llvm::StringRef path,
                                     llvm::StringRef bytes) {
  std::string temp = temporaryPathFor(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return ioError(path, "cannot write: " + errnoText(errno));
  auto fail = [&](const char *what, int error) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(temp.c_str());
    return ioError(path, llvm::Twine("cannot write (") + what +
                             "): " + errnoText(error) +
                             "; the file is unchanged");
  };
  const char *data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail("write", errno);
    data += n;
    left -= size_t(n);
  }
  if (::fsync(fd) != 0)
    return fail("fsync", errno);
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0)
    return fail("close", errno);
  if (::rename(temp.c_str(), path.str().c_str()) != 0)
    return fail("rename", errno);
  // Make the rename itself durable; a directory that cannot be synced (some
  // file systems) still has the complete file.
  int dir = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return llvm::Error::success();
}

llvm::Error mha::checkWritable(llvm::StringRef path) {
  struct stat info;
  if (::stat(path.str().c_str(), &info) == 0 && !S_ISREG(info.st_mode))
    return ioError(path, S_ISDIR(info.st_mode)
                             ? "cannot write: is a directory"
                             : "cannot write: not a regular file");
  std::string dir = directoryOf(path);
  if (::stat(dir.c_str(), &info) != 0)
    return ioError(path, "cannot write: directory '" + dir +
                             "': " + errnoText(errno));
  if (!S_ISDIR(info.st_mode))
    return ioError(path, "cannot write: '" + dir + "' is not a directory");
  // Creating the temporary is the real test (permissions, read-only file
  // systems); it also replaces one a killed run left behind.
  std::string temp = temporaryPathFor(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return ioError(path, "cannot write: " + errnoText(errno));
  ::close(fd);
  ::unlink(temp.c_str());
  return llvm::Error::success();
}
