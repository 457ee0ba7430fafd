#pragma once
// Overload: a visitor made of lambdas, one per alternative of a variant
// (a generic lambda last catches the rest).
namespace rmpi::places::detail {

template <class... Fs>
struct Overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overload(Fs...) -> Overload<Fs...>;

}  // namespace rmpi::places::detail
