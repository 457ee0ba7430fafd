#include <rmpi/channel.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace rmpi::places;
using namespace std::chrono_literals;

TEST_CASE("a place channel pair delivers in order, both ways") {
  auto [a, b] = make_place_channel_pair();
  for (int i = 0; i < 1000; ++i) a.put(i);
  b.put(std::string("back"));
  for (int i = 0; i < 1000; ++i) CHECK(b.get<int>() == i);
  CHECK(a.get<std::string>() == "back");
}

TEST_CASE("put never waits for the receiver; get blocks until a message") {
  auto [a, b] = make_place_channel_pair();
  for (int i = 0; i < 10000; ++i) a.put(i);  // nobody reading yet
  std::thread producer([ch = b]() mutable { ch.put(Value("late")); });
  for (int i = 0; i < 10000; ++i) CHECK(b.get<int>() == i);
  CHECK(a.get<Value>() == Value("late"));
  producer.join();
}

TEST_CASE("FIFO per sender with several senders") {
  auto [a, b] = make_place_channel_pair();
  std::vector<std::thread> senders;
  for (int s = 0; s < 4; ++s)
    senders.emplace_back([ch = a, s]() mutable {
      for (int i = 0; i < 500; ++i) ch.put(std::array<int, 2>{s, i});
    });
  std::array<int, 4> next{};
  for (int k = 0; k < 2000; ++k) {
    auto [s, i] = b.get<std::array<int, 2>>();
    CHECK(i == next[s]);
    next[s] = i + 1;
  }
  for (auto& t : senders) t.join();
}

TEST_CASE("try_get and get_for") {
  auto [a, b] = make_place_channel_pair();
  CHECK_FALSE(b.try_get<int>().has_value());
  CHECK_FALSE(b.get_for<int>(10ms).has_value());
  a.put(5);
  CHECK(b.try_get<int>() == 5);
  a.put(6);
  CHECK(b.get_for<int>(1s) == 6);
}

TEST_CASE("reading a channel whose other end is gone is ChannelClosed once drained") {
  PlaceChannel b;
  {
    auto [a, bb] = make_place_channel_pair("test channel");
    a.put(1);
    b = bb;
  }
  CHECK(b.get<int>() == 1);
  CHECK_THROWS_WITH_AS(b.get<int>(), doctest::Contains("test channel"), rmpi::ChannelClosed);
}

TEST_CASE("async bi-channel: each end reads what the other sent") {
  AsyncBiChannel ch;
  AsyncBiChannel other = ch.other();
  ch.put("to other");
  other.put(Value(3));
  CHECK(other.get<std::string>() == "to other");
  CHECK(ch.get<Value>() == Value(3));
}

TEST_CASE("typed channel returns the first message of a type, queueing others") {
  auto [a, b] = make_place_channel_pair();
  TypedChannel tc(b);
  a.put(list(sym("args"), 1, 2));
  a.put(list(sym("done")));
  a.put(list(sym("id"), 3));
  CHECK(tc_get("id", tc) == list(sym("id"), 3));
  CHECK(tc.get("done") == list(sym("done")));
  CHECK(tc.get("args")[2] == Value(2));
}

TEST_CASE("typed channel keeps a message that is not a Value queued, for get_sent_as") {
  auto [a, b] = make_place_channel_pair();
  TypedChannel tc(b);
  a.put(std::int64_t{42});
  a.put(std::string("text"));
  a.put(list(sym("id"), 3));
  CHECK(tc.get("id") == list(sym("id"), 3));
  CHECK(tc.queued() == 2);
  CHECK(tc.get_sent_as<std::string>() == "text");
  CHECK(tc.get_sent_as<std::int64_t>() == 42);
  CHECK(tc.queued() == 0);
  a.put(list(sym("late")));
  a.put(7.5);
  CHECK(tc.get_sent_as<double>() == 7.5);
  CHECK(tc.get("late") == list(sym("late")));
}

TEST_CASE("channel_put and channel_get work on every channel kind") {
  static_assert(is_channel_v<PlaceChannel>);
  static_assert(is_channel_v<AsyncBiChannel>);
  static_assert(!is_channel_v<int>);
  auto [a, b] = make_place_channel_pair();
  channel_put(a, Value("x"));
  CHECK(channel_get(b) == Value("x"));
  AsyncBiChannel bi;
  auto other = bi.other();
  channel_put(bi, 9);
  CHECK(channel_get<int>(other) == 9);
}
