// Process-wide compute settings. libtorch defaults to one thread on some machines,
// so lrem sets the intra-op thread count explicitly.
#pragma once

namespace lrem {

// Sets libtorch's intra-op thread count. n <= 0 means hardware concurrency.
// Returns the count in effect afterwards.
int set_num_threads(int n = 0);
int num_threads();

}  // namespace lrem
