/*
 * warden.h
 *		Declarations shared by the files of the warden extension.
 */
#ifndef WARDEN_H
#define WARDEN_H

/* guc.c */
extern void warden_define_gucs(void);

#endif							/* WARDEN_H */
