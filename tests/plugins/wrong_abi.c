/* wrong_abi.c — a plugin built for a connector ABI this gateway does not
 * speak: loading it must be a config error, not a crash. */
#include "connector.h"

static const struct connector_key wrong_abi_keys[] = { { NULL, 0, NULL, 0, 0, NULL } };

static const struct connector_ops wrong_abi_ops = {
	.abi_version = CONNECTOR_ABI_VERSION + 1,
	.name = "wrong_abi",
	.keys = wrong_abi_keys,
};

const struct connector_ops *tellonce_connector_v1(void);

const struct connector_ops *
tellonce_connector_v1(void)
{
	return &wrong_abi_ops;
}
