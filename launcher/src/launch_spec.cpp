#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

const AppContext& app_of_rank(const LaunchSpec& spec, int rank) {
  int first = 0;
  for (std::size_t i = 0; i + 1 < spec.apps.size(); ++i) {
    first += spec.apps[i].np.value_or(0);
    if (rank < first) return spec.apps[i];
  }
  return spec.apps.back();
}

}  // namespace rmpi::launcher
