// Client calls of a remote server are checked at compile time. Built by
// ctest with -DRMPI_CASE=n: case 0 must compile, every other case must not,
// with the compiler naming the mismatched call.
#include <rmpi/remote_server.hpp>

#include <cstdint>
#include <string>

namespace rp = rmpi::places;

struct Account {
  std::int64_t deposit(const std::string& who, std::int64_t amount) {
    return static_cast<std::int64_t>(who.size()) + amount;
  }
  void note(const std::string&) {}
};
constexpr rp::Rpc<&Account::deposit> account_deposit{"deposit"};
constexpr rp::Cast<&Account::note> account_note{"note"};

[[maybe_unused]] void client(rp::RemoteConnection& conn) {
#if RMPI_CASE == 0
  std::int64_t balance = account_deposit(conn, "user0", 10);
  (void)balance;
  account_note(conn, std::string("hi"));
#elif RMPI_CASE == 1
  account_deposit(conn, "user0", "ten");  // wrong argument type
#elif RMPI_CASE == 2
  account_deposit(conn, "user0");  // too few arguments
#elif RMPI_CASE == 3
  account_deposit(conn, "user0", 10, 1);  // too many arguments
#elif RMPI_CASE == 4
  account_deposit(conn, 42, 10);  // wrong type for the first argument
#elif RMPI_CASE == 5
  account_deposit(conn, "user0", 2.5);  // a double for an integer parameter
#elif RMPI_CASE == 6
  std::string result = account_deposit(conn, "user0", 10);  // the result is an integer
  (void)result;
#elif RMPI_CASE == 7
  int answer = account_note(conn, "hi");  // a cast has no result
  (void)answer;
#endif
}
