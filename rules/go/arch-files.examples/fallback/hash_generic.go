// ok: ARM-GO-AMD64-FALLBACK, ARM-GO-AMD64-ONLY
//go:build !amd64

package hash

func update(state *[4]uint64, p []byte) { updateGeneric(state, p) }
