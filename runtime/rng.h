/*
** rng.h — deterministic random streams split from one master seed.
**
** A stream is named by (master seed, purpose, index): the seed of a param's
** draws, of run k of an ensemble, of particle block b.  Streams are derived
** with splitmix64, so they do not depend on how many threads consume them or
** in which order, and a job array shifts the master seed by --seed-offset.
** The generator is GSL's mt19937 (documented default).
*/
#ifndef HNN_RNG_H
#define HNN_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef enum { RNG_PARAM = 1, RNG_RUN = 2, RNG_BLOCK = 3, RNG_OFFSET = 4 } rng_purpose;

uint64_t rng_split(uint64_t master, uint64_t purpose, uint64_t index);
/* A new generator for a stream; free with gsl_rng_free. NULL on failure. */
gsl_rng *rng_stream(uint64_t master, uint64_t purpose, uint64_t index);
/* FNV-1a of a name: the index of a param's stream. */
uint64_t rng_name_index(const char *name);

#endif
