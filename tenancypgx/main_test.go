package tenancypgx_test

import (
	"testing"

	"github.com/go-tenancy/tenancy/tenancytest"
)

func TestMain(m *testing.M) { tenancytest.Main(m) }
