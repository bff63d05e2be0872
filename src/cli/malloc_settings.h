// glibc malloc settings that the lrem program chooses for its own process. The library never
// changes them: they belong to whoever owns the process (a Python session, a C++ service).
// Each setting yields to the environment variable that sets it.
#pragma once

namespace lrem::cli {

// For the batch jobs (embed, index, train, eval, ...): fixed mmap and trim thresholds. With
// glibc's adaptive defaults, the first thousands of forward passes map, fault in and unmap
// their activations again and again until the thresholds have grown past the largest tensor:
// encoding the first 7,040 items took 6.2 s instead of 1.9 s, and 64 KiB encoding chunks
// (one embedding call each) ran at 60% of 256 KiB chunks' speed (docs/SCALE.md, "Encoding
// throughput"). Fixed at 32 MiB (mmap) and 64 MiB (trim), the first pass runs at full speed.
void tune_malloc_for_batch_jobs();

// For serve: every connection runs on a thread of its own, and glibc gives threads malloc
// arenas of their own (up to 8 per core), each keeping what it freed: in a 10-minute soak
// resident memory crept from 343 to 373 MB without levelling off; with 2 arenas it levelled
// at 291 MB (docs/SERVING.md, "Soak"). At most max(2, cores) arenas.
void limit_malloc_arenas();

}  // namespace lrem::cli
