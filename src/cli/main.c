#include <stdio.h>
#include "coffer.h"
int main(void)
{
	return 0;
}
