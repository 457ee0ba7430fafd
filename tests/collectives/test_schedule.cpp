// The hypercube schedules as pure functions, checked without any transport.
#include <doctest/doctest.h>

#include <algorithm>
#include <rmpi/collectives/schedule.hpp>
#include <set>
#include <stdexcept>
#include <vector>

namespace rc = rmpi::collectives;
using Action = rc::Step::Action;

namespace {

std::vector<int> schedule_sizes() {
  std::vector<int> s;
  for (int p = 1; p <= 40; ++p) s.push_back(p);
  for (int p : {63, 64, 65, 100}) s.push_back(p);
  return s;
}

// Every send in `all` (all[rank] = steps) has the matching receive, and back.
void check_matched(const std::vector<std::vector<rc::Step>>& all) {
  for (int r = 0; r < static_cast<int>(all.size()); ++r) {
    for (const auto& s : all[r]) {
      const auto opposite = s.action == Action::send ? Action::recv : Action::send;
      const rc::Step mirror{s.round, r, opposite};
      CHECK(std::count(all[s.peer].begin(), all[s.peer].end(), mirror) == 1);
    }
  }
}

}  // namespace

TEST_CASE("hypercube_rounds is ceil(log2 p)") {
  CHECK(rc::hypercube_rounds(1) == 0);
  CHECK(rc::hypercube_rounds(2) == 1);
  CHECK(rc::hypercube_rounds(3) == 2);
  CHECK(rc::hypercube_rounds(4) == 2);
  CHECK(rc::hypercube_rounds(5) == 3);
  CHECK(rc::hypercube_rounds(17) == 5);
  CHECK(rc::hypercube_rounds(32) == 5);
  CHECK(rc::hypercube_rounds(33) == 6);
}

TEST_CASE("relative ranks put the root at 0 and invert") {
  CHECK(rc::relative_rank(2, 5, 2) == 0);
  CHECK(rc::relative_rank(1, 5, 2) == 4);
  for (int p = 1; p <= 9; ++p) {
    for (int root = 0; root < p; ++root) {
      for (int r = 0; r < p; ++r) {
        CHECK(rc::absolute_rank(rc::relative_rank(r, p, root), p, root) == r);
      }
    }
  }
}

TEST_CASE("broadcast_schedule on 5 ranks, as the reference's hypercube") {
  using S = std::vector<rc::Step>;
  CHECK(rc::broadcast_schedule(0, 5, 0) ==
        S{{0, 1, Action::send}, {1, 2, Action::send}, {2, 4, Action::send}});
  CHECK(rc::broadcast_schedule(3, 5, 0) == S{{1, 1, Action::recv}});
  CHECK(rc::broadcast_schedule(1, 5, 0) == S{{0, 0, Action::recv}, {1, 3, Action::send}});
  // Root 2: relative id k is rank (k + 2) % 5.
  CHECK(rc::broadcast_schedule(2, 5, 2) ==
        S{{0, 3, Action::send}, {1, 4, Action::send}, {2, 1, Action::send}});
  CHECK(rc::broadcast_schedule(1, 5, 2) == S{{2, 2, Action::recv}});
}

TEST_CASE("reduce_schedule on 5 ranks, as the reference's hypercube") {
  using S = std::vector<rc::Step>;
  CHECK(rc::reduce_schedule(0, 5, 0) ==
        S{{0, 1, Action::recv}, {1, 2, Action::recv}, {2, 4, Action::recv}});
  CHECK(rc::reduce_schedule(2, 5, 0) == S{{0, 3, Action::recv}, {1, 0, Action::send}});
  CHECK(rc::reduce_schedule(4, 5, 0) == S{{2, 0, Action::send}});
  CHECK(rc::reduce_schedule(3, 5, 3) ==
        S{{0, 4, Action::recv}, {1, 0, Action::recv}, {2, 2, Action::recv}});
}

TEST_CASE("broadcast_schedule reaches every rank once, for every size and root") {
  for (int p : schedule_sizes()) {
    for (int root = 0; root < p; ++root) {
      CAPTURE(p);
      CAPTURE(root);
      std::vector<std::vector<rc::Step>> all;
      int last_round = -1;
      for (int r = 0; r < p; ++r) {
        all.push_back(rc::broadcast_schedule(r, p, root));
        const auto& steps = all.back();
        const auto recvs = std::count_if(
            steps.begin(), steps.end(), [](const rc::Step& s) { return s.action == Action::recv; });
        if (r == root) {
          CHECK(recvs == 0);
        } else {
          CHECK(recvs == 1);
          REQUIRE(!steps.empty());
          CHECK(steps.front().action == Action::recv);  // receives before it sends
        }
        for (std::size_t i = 0; i < steps.size(); ++i) {
          CHECK(steps[i].round >= 0);
          CHECK(steps[i].round < rc::hypercube_rounds(p));
          CHECK(steps[i].peer != r);
          if (i > 0) CHECK(steps[i - 1].round < steps[i].round);
          last_round = std::max(last_round, steps[i].round);
        }
      }
      CHECK(last_round + 1 == rc::hypercube_rounds(p));
      check_matched(all);

      // Data flow, round by round: only holders send; everyone ends up a holder.
      std::vector<bool> has(p, false);
      has[root] = true;
      for (int round = 0; round < rc::hypercube_rounds(p); ++round) {
        std::vector<bool> next = has;
        for (int r = 0; r < p; ++r) {
          for (const auto& s : all[r]) {
            if (s.round == round && s.action == Action::send) {
              CHECK(has[r]);
              CHECK(!has[s.peer]);
              next[s.peer] = true;
            }
          }
        }
        has = next;
      }
      CHECK(std::count(has.begin(), has.end(), true) == p);
    }
  }
}

TEST_CASE("reduce_schedule combines every rank exactly once at the root") {
  for (int p : schedule_sizes()) {
    for (int root = 0; root < p; ++root) {
      CAPTURE(p);
      CAPTURE(root);
      std::vector<std::vector<rc::Step>> all;
      for (int r = 0; r < p; ++r) {
        all.push_back(rc::reduce_schedule(r, p, root));
        const auto& steps = all.back();
        const auto sends = std::count_if(
            steps.begin(), steps.end(), [](const rc::Step& s) { return s.action == Action::send; });
        if (r == root) {
          CHECK(sends == 0);
        } else {
          CHECK(sends == 1);
          REQUIRE(!steps.empty());
          CHECK(steps.back().action == Action::send);  // all receives first
        }
        for (std::size_t i = 1; i < steps.size(); ++i) CHECK(steps[i - 1].round < steps[i].round);
      }
      check_matched(all);

      // Each rank holds a set of relative ids; a send moves the whole set, and
      // that set is exactly the contiguous block reduce_block describes.
      std::vector<std::set<int>> holds(p);
      for (int r = 0; r < p; ++r) holds[r].insert(rc::relative_rank(r, p, root));
      for (int round = 0; round < rc::hypercube_rounds(p); ++round) {
        for (int r = 0; r < p; ++r) {
          for (const auto& s : all[r]) {
            if (s.round != round || s.action != Action::send) continue;
            const int id = rc::relative_rank(r, p, root);
            const auto block = rc::reduce_block(id, round, p);
            std::set<int> expected;
            for (int k = block.first; k < block.last; ++k) expected.insert(k);
            CHECK(holds[r] == expected);
            REQUIRE(holds[s.peer].count(id) == 0);
            holds[s.peer].insert(holds[r].begin(), holds[r].end());
            holds[r].clear();
          }
        }
      }
      CHECK(static_cast<int>(holds[root].size()) == p);
    }
  }
}

TEST_CASE("schedules reject ranks and roots outside the group") {
  CHECK_THROWS_AS(rc::broadcast_schedule(0, 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(rc::broadcast_schedule(3, 3, 0), std::invalid_argument);
  CHECK_THROWS_AS(rc::reduce_schedule(0, 3, -1), std::invalid_argument);
  CHECK_THROWS_WITH_AS(rc::reduce_schedule(0, 3, 5),
                       "rmpi::collectives::reduce_schedule: rank 0 and root 5 must lie in [0, 3)",
                       std::invalid_argument);
}
