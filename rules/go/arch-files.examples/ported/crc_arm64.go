// ok: ARM-GO-AMD64-ONLY
package crc

func update(crc uint32, p []byte) uint32 { return updateARM64(crc, p) }
