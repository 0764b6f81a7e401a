#include <stdio.h>
int fast(int x);
int g(void);
// ok: ARM-COMPILE-ERROR
int main(void) { printf("%d %d\n", fast(2), g()); return 0; }
