// ok: ARM-GO-AMD64-ONLY
package sum

func Total(xs []uint64) uint64 { return Sum(xs) }
