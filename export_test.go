package tenancy

import "database/sql/driver"

// SeamTxStatus exposes, to the external tests, the transaction status the seam
// chosen for drv reads from one of its connections.
func SeamTxStatus(drv driver.Driver, c driver.Conn) byte { return seamFor(drv).txStatus(c) }
