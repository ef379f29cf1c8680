/* plain_rk4.c — the hand-written RK4 baseline (gcc -O2): fixed step, output
** every EVERY steps to a file, the same rows as hnn (common.h). */
#include "common.h"

int main(int argc, char **argv) {
  FILE *f = fopen(argc > 1 ? argv[1] : "plain.dat", "w");
  if (!f) return 1;
  double t0 = now();
  double u[2] = { log(X0_1 / (1 - X0_1)), log(X0_2 / (1 - X0_2)) }, k1[2], k2[2], k3[2], k4[2], y[2];
  double h = DT;
  write_row(f, 0, 0, u);
  for (long s = 1; s <= NSTEPS; s++) {
    himmel_rhs(u, k1);
    for (int i = 0; i < 2; i++) y[i] = u[i] + 0.5 * h * k1[i];
    himmel_rhs(y, k2);
    for (int i = 0; i < 2; i++) y[i] = u[i] + 0.5 * h * k2[i];
    himmel_rhs(y, k3);
    for (int i = 0; i < 2; i++) y[i] = u[i] + h * k3[i];
    himmel_rhs(y, k4);
    for (int i = 0; i < 2; i++) u[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    if (s % EVERY == 0) write_row(f, s * h, s, u);
  }
  fclose(f);
  printf("%.4f %.17g %.17g\n", now() - t0, 1 / (1 + exp(-u[0])), 1 / (1 + exp(-u[1])));
  return 0;
}
