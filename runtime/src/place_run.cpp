#include "place_run.hpp"

#include <cstdlib>
#include <exception>

#include <rmpi/log.hpp>
#include <rmpi/place.hpp>

namespace rmpi::places {

namespace {
thread_local bool running_place_function = false;

struct PlaceFunctionScope {
  PlaceFunctionScope() { running_place_function = true; }
  ~PlaceFunctionScope() { running_place_function = false; }
};
}  // namespace

bool detail::in_place_function() { return running_place_function; }

void place_exit(int code) {
  if (!running_place_function) std::exit(code);
  throw detail::PlaceExitRequest{code};
}

int detail::run_place_code(const std::function<int()>& body, const std::string& what) {
  PlaceFunctionScope scope;
  try {
    return body();
  } catch (const PlaceExitRequest& request) {
    return request.code;
  } catch (const std::exception& e) {
    log_message(Severity::error, what + " threw: " + e.what());
  } catch (...) {
    log_message(Severity::error, what + " threw a non-standard exception");
  }
  return 1;
}

int detail::run_place_body(const std::function<void(PlaceChannel)>& body, PlaceChannel ch,
                           const std::string& what) {
  return run_place_code(
      [&] {
        body(std::move(ch));
        return 0;
      },
      what);
}

}  // namespace rmpi::places
