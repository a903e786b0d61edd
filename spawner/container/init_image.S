/* sup-init (sup-init.c, built static) inside supd's image: copied once into a sealed memfd
 * and exec'd from there by a container's first process (init.c). */
	.section .rodata
	.balign 64
	.globl sup_init_image
	.globl sup_init_image_end
sup_init_image:
	.incbin SUP_INIT_PATH
sup_init_image_end:
	.section .note.GNU-stack, "", %progbits
