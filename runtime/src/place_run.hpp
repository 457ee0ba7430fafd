#pragma once
// Running a place function, the one way for every kind of place (process,
// thread of a module host, place() thread): its exit code is 0 when it
// returns, place_exit's code, or 1 when it throws (logged, naming `what`).
#include <functional>
#include <string>

#include <rmpi/channel.hpp>

namespace rmpi::places::detail {

/// Runs `body(ch)` with place_exit enabled on this thread; its exit code.
int run_place_body(const std::function<void(PlaceChannel)>& body, PlaceChannel ch,
                   const std::string& what);

/// Runs `body()` with place_exit enabled on this thread; its exit code
/// (`body`'s result, place_exit's code, or 1 when it throws).
int run_place_code(const std::function<int()>& body, const std::string& what);

}  // namespace rmpi::places::detail
