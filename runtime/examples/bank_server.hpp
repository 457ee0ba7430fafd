// The reference's bank as a remote server: accounts and their balances.
#pragma once
#include <rmpi/places.hpp>

#include <cstdint>
#include <map>
#include <string>

struct Bank {
  std::map<std::string, std::int64_t> accounts;  // define-state

  // (new-account who) → (created who) or (already-exists)
  rmpi::places::Value new_account(const std::string& who) {
    using rmpi::places::list, rmpi::places::sym;
    if (accounts.count(who)) return list(sym("already-exists"));
    accounts[who] = 0;
    return list(sym("created"), sym(who));
  }
  // (add who amount) → (ok balance) or (invalid-account who)
  rmpi::places::Value add(const std::string& who, std::int64_t amount) {
    using rmpi::places::list, rmpi::places::sym;
    auto account = accounts.find(who);
    if (account == accounts.end()) return list(sym("invalid-account"), sym(who));
    account->second += amount;
    return list(sym("ok"), account->second);
  }
  // (remove who amount) → (ok balance), (insufficient-funds balance) or (invalid-account who)
  rmpi::places::Value remove(const std::string& who, std::int64_t amount) {
    using rmpi::places::list, rmpi::places::sym;
    auto account = accounts.find(who);
    if (account == accounts.end()) return list(sym("invalid-account"), sym(who));
    if (amount > account->second) return list(sym("insufficient-funds"), account->second);
    account->second -= amount;
    return list(sym("ok"), account->second);
  }
};

inline constexpr rmpi::places::Rpc<&Bank::new_account> bank_new_account{"new-account"};
inline constexpr rmpi::places::Rpc<&Bank::add> bank_add{"add"};
inline constexpr rmpi::places::Rpc<&Bank::remove> bank_remove{"remove"};

// Registers the place functions make_bank and make_named_bank.
RMPI_REMOTE_SERVER(bank, bank_new_account, bank_add, bank_remove);
