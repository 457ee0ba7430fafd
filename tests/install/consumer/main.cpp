// A user's own program built against an installed rmpi.
#include <rmpi/channel.hpp>

#include <iostream>

int main() {
  using namespace rmpi::places;
  auto [a, b] = make_place_channel_pair();
  a.put(list(sym("set"), "user0", 100));
  std::cout << "consumer: " << b.get<Value>().to_string() << " round-tripped\n";
}
