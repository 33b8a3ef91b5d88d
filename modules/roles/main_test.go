package roles

import (
	"testing"

	"kportal/storage/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
