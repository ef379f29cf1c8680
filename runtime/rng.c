/*
** rng.c — seed splitting (splitmix64) and GSL generator streams.
*/
#include "rng.h"

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rng_split(uint64_t master, uint64_t purpose, uint64_t index) {
  uint64_t s = master;
  uint64_t a = splitmix64(&s);
  s = a ^ (purpose * 0xd1b54a32d192ed03ULL);
  uint64_t b = splitmix64(&s);
  s = b ^ (index * 0xaef17502108ef2d9ULL);
  return splitmix64(&s);
}

gsl_rng *rng_stream(uint64_t master, uint64_t purpose, uint64_t index) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r) return NULL;
  /* mt19937 takes 32 bits of seed; 0 would select GSL's default seed. */
  unsigned long seed = (unsigned long)(rng_split(master, purpose, index) & 0xffffffffUL);
  gsl_rng_set(r, seed ? seed : 0x5eed);
  return r;
}

uint64_t rng_name_index(const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
  return h;
}
