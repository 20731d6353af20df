build-install/obj/coordinator/ui_html.o: coordinator/ui_html.c
