/* no_entry.c — a shared object that is not a connector: it lacks the entry
 * symbol, which must be a config error. */
int no_entry_answer(void);

int
no_entry_answer(void)
{
	return 42;
}
