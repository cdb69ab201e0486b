// The one exception barrier of the C ABI (shim.cpp, dist.cpp): C# cannot catch C++ exceptions, so every export
// runs its body through here and returns 0, or 1 with the message left in the caller's thread-local string.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <utility>

namespace videossl {

template <typename F>
int guarded(std::string& error, F&& body) {
  try {
    std::forward<F>(body)();
    return 0;
  } catch (const c10::Error& e) {
    // what_without_backtrace keeps the message readable; the C++ backtrace is noise to a C# user.
    error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown C++ exception";
  }
  return 1;
}

}  // namespace videossl
