// A user's own program built against an installed rmpi: the places runtime
// and the rmpi layer through their umbrella headers.
#include <rmpi/places.hpp>
#include <rmpi/rmpi.hpp>

#include <iostream>

int main() {
  using namespace rmpi::places;
  auto [a, b] = make_place_channel_pair();
  a.put(list(sym("set"), "user0", 100));
  const auto [offset, length] = rmpi::partition(1, 3, 10);
  std::cout << "consumer: " << b.get<Value>().to_string() << " round-tripped; partition "
            << offset << "+" << length << "\n";
}
